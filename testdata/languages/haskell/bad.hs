main = undefined_name
