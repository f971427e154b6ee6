fun main() { undefined_name() }
