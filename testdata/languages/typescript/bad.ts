undefined_name();
