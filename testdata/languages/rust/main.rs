use std::io::BufRead;

fn main() {
    println!("hello, world");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let line = line.trim_end_matches('\n').to_string();
    println!("stdin: {}", line);
    for a in std::env::args().skip(1) {
        println!("arg: {}", a);
    }
    if line == "fail" {
        std::process::exit(3);
    }
    if line == "crash" {
        panic!("crash");
    }
}
