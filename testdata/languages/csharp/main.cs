using System;

class Program
{
    static int Main(string[] args)
    {
        Console.WriteLine("hello, world");
        string line = Console.ReadLine() ?? "";
        Console.WriteLine("stdin: " + line);
        foreach (var a in args) Console.WriteLine("arg: " + a);
        if (line == "fail") return 3;
        if (line == "crash") throw new InvalidOperationException("crash");
        return 0;
    }
}
