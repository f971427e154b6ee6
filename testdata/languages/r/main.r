cat("hello, world\n")
con <- file("stdin")
lines <- readLines(con, n = 1)
close(con)
line <- if (length(lines) == 0) "" else lines[1]
cat("stdin: ", line, "\n", sep = "")
for (a in commandArgs(trailingOnly = TRUE)) cat("arg: ", a, "\n", sep = "")
if (line == "fail") quit(status = 3)
if (line == "crash") stop("crash")
