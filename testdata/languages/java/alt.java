import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;

// Any public class name works: the file is named after it.
public final class Solution {
    public static void main(String[] args) throws IOException {
        System.out.println("hello, world");
        BufferedReader r = new BufferedReader(new InputStreamReader(System.in));
        String line = r.readLine();
        if (line == null) line = "";
        System.out.println("stdin: " + line);
        for (String a : args) System.out.println("arg: " + a);
    }
}
