import System.Environment (getArgs)
import System.Exit
import System.IO

main :: IO ()
main = do
  hSetBuffering stdout LineBuffering
  putStrLn "hello, world"
  eof <- isEOF
  line <- if eof then return "" else getLine
  putStrLn ("stdin: " ++ line)
  args <- getArgs
  mapM_ (\a -> putStrLn ("arg: " ++ a)) args
  if line == "fail" then exitWith (ExitFailure 3) else return ()
  if line == "crash" then error "crash" else return ()
