// Does not compile.
// expect status: compilation_error
int main(void) { return undefined_symbol; }
