-module(main).
-export([main/1]).

main(Args) ->
    io:format("hello, world~n"),
    Line = case io:get_line("") of
        eof -> "";
        L -> string:trim(L, trailing, "\n")
    end,
    io:format("stdin: ~s~n", [Line]),
    [io:format("arg: ~s~n", [A]) || A <- Args],
    case Line of
        "fail" -> halt(3);
        "crash" -> erlang:error(crash);
        _ -> ok
    end.
