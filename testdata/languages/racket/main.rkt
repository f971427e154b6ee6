#lang racket/base
(displayln "hello, world")
(define line (let ([l (read-line)]) (if (eof-object? l) "" l)))
(displayln (string-append "stdin: " line))
(for ([a (current-command-line-arguments)]) (displayln (string-append "arg: " a)))
(when (equal? line "fail") (exit 3))
(when (equal? line "crash") (error "crash"))
