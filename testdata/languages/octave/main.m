printf("hello, world\n");
line = fgetl(stdin);
if ~ischar(line)
  line = "";
end
printf("stdin: %s\n", line);
args = argv();
for i = 1:numel(args)
  printf("arg: %s\n", args{i});
end
if strcmp(line, "fail")
  exit(3);
end
if strcmp(line, "crash")
  error("crash");
end
