program main
  implicit none
  character(len=256) :: line, arg
  integer :: i, ios
  print '(a)', 'hello, world'
  line = ''
  read (*, '(a)', iostat=ios) line
  print '(a)', 'stdin: ' // trim(line)
  do i = 1, command_argument_count()
    call get_command_argument(i, arg)
    print '(a)', 'arg: ' // trim(arg)
  end do
  if (trim(line) == 'fail') call exit(3)
  if (trim(line) == 'crash') error stop 'crash'
end program main
