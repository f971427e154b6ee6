program main;
var
  line: string;
  i, zero: integer;
begin
  writeln('hello, world');
  line := '';
  if not eof then readln(line);
  writeln('stdin: ', line);
  for i := 1 to ParamCount do writeln('arg: ', ParamStr(i));
  if line = 'fail' then halt(3);
  if line = 'crash' then
  begin
    zero := 0;
    writeln(10 div zero);
  end;
end.
