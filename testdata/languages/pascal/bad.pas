program main;
begin
  writeln(undefined_name);
end.
