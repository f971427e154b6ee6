let () =
  print_endline "hello, world";
  let line = try input_line stdin with End_of_file -> "" in
  print_endline ("stdin: " ^ line);
  Array.iteri (fun i a -> if i > 0 then print_endline ("arg: " ^ a)) Sys.argv;
  if line = "fail" then exit 3;
  if line = "crash" then failwith "crash"
