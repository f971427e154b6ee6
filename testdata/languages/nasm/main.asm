; x86-64 Linux, no libc: hello, echo the first stdin line, print the args,
; exit 3 on "fail", segfault on "crash".
section .data
hello     db "hello, world", 10
hello_len equ $ - hello
pre       db "stdin: "
pre_len   equ $ - pre
argp      db "arg: "
argp_len  equ $ - argp
nl        db 10

section .bss
buf resb 256

section .text
global _start
_start:
	mov r12, [rsp]          ; argc
	lea r13, [rsp+8]        ; argv
	mov rax, 1
	mov rdi, 1
	mov rsi, hello
	mov rdx, hello_len
	syscall
	xor rax, rax            ; read(0, buf, 256)
	xor rdi, rdi
	mov rsi, buf
	mov rdx, 256
	syscall
	cmp rax, 0
	jg .got
	xor rax, rax
.got:
	xor rcx, rcx
.scan:
	cmp rcx, rax
	jge .scanned
	cmp byte [buf+rcx], 10
	je .scanned
	inc rcx
	jmp .scan
.scanned:
	mov r14, rcx            ; line length
	mov rax, 1
	mov rdi, 1
	mov rsi, pre
	mov rdx, pre_len
	syscall
	mov rax, 1
	mov rdi, 1
	mov rsi, buf
	mov rdx, r14
	syscall
	mov rax, 1
	mov rdi, 1
	mov rsi, nl
	mov rdx, 1
	syscall
	mov rbx, 1
.args:
	cmp rbx, r12
	jge .argsdone
	mov r15, [r13+rbx*8]
	xor rdx, rdx
.len:
	cmp byte [r15+rdx], 0
	je .lendone
	inc rdx
	jmp .len
.lendone:
	push rdx
	mov rax, 1
	mov rdi, 1
	mov rsi, argp
	mov rdx, argp_len
	syscall
	pop rdx
	mov rax, 1
	mov rdi, 1
	mov rsi, r15
	syscall
	mov rax, 1
	mov rdi, 1
	mov rsi, nl
	mov rdx, 1
	syscall
	inc rbx
	jmp .args
.argsdone:
	cmp r14, 4
	jne .notfail
	cmp dword [buf], 'fail'
	jne .notfail
	mov rax, 60
	mov rdi, 3
	syscall
.notfail:
	cmp r14, 5
	jne .exit0
	cmp dword [buf], 'cras'
	jne .exit0
	mov rax, [0]            ; segfault
.exit0:
	mov rax, 60
	xor rdi, rdi
	syscall
