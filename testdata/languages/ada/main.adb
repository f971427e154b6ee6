with Ada.Text_IO; use Ada.Text_IO;
with Ada.Command_Line; use Ada.Command_Line;

procedure Main is
   Line : String (1 .. 256);
   Last : Natural := 0;
begin
   Put_Line ("hello, world");
   if not End_Of_File then
      Get_Line (Line, Last);
   end if;
   Put_Line ("stdin: " & Line (1 .. Last));
   for I in 1 .. Argument_Count loop
      Put_Line ("arg: " & Argument (I));
   end loop;
   if Line (1 .. Last) = "fail" then
      Set_Exit_Status (3);
      return;
   end if;
   if Line (1 .. Last) = "crash" then
      raise Program_Error;
   end if;
end Main;
