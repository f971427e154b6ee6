fn main() { undefined_name(); }
