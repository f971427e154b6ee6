package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println("hello, world")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	line = strings.TrimRight(line, "\n")
	fmt.Println("stdin: " + line)
	for _, a := range os.Args[1:] {
		fmt.Println("arg: " + a)
	}
	if line == "fail" {
		os.Exit(3)
	}
	if line == "crash" {
		panic("crash")
	}
}
