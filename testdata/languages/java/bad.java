public class Main {
    public static void main(String[] args) { undefined_name(); }
}
