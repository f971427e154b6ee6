package main

func main() { undefined_name() }
