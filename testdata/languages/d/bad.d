void main() { undefined_name(); }
