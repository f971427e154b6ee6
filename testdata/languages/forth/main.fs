create buf 256 allot
." hello, world" cr
buf 256 stdin read-line throw drop constant len
." stdin: " buf len type cr
: show-args ( -- ) begin next-arg dup while ." arg: " type cr repeat 2drop ;
show-args
buf len s" fail" compare 0= [if] 3 (bye) [then]
buf len s" crash" compare 0= [if] 0 @ [then]
bye
