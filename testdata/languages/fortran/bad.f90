program main
  implicit none
  print *, undefined_name
end program main
