class Program { static void Main() { undefined_name(); } }
