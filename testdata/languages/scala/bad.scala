object Main {
  def main(args: Array[String]): Unit = undefined_name()
}
