; boot.asm: the boot sector of qtrace's live end-to-end tests (crates/e2e).
;
; SeaBIOS loads this sector (LBA 0 of the first hard disk) to 0000:7C00 and
; jumps to it with DL = the BIOS drive number. It then reads and writes a fixed
; list of LBAs of that drive through the INT 13h extensions (AH=42h read,
; AH=43h write), which SeaBIOS services with the disk controller's commands
; (DMA on AHCI; PIO or DMA on IDE), checks that what it wrote reads back the
; same, and ends QEMU through isa-debug-exit
; (-device isa-debug-exit,iobase=0xf4,iosize=0x04), which exits QEMU with
; status (value << 1) | 1:
;
;   value 0x10 (QEMU exit status 33)          every step succeeded
;   value 0x20 + N (exit status 65 + 2N)      step N (1-based) failed
;   value 0x3e (exit status 125)              no INT 13h extensions
;   value 0x3f (exit status 127)              written data did not read back
;
; The list of steps in OPS below is the ground truth the live tests compare
; dma-sectors with (crates/e2e/src/lib.rs, BOOT_OPS): keep the two in sync.
; Rebuild boot.bin with scripts/build-boot (nasm).

bits 16
org 0x7c00

WBUF    equ 0x1000              ; segment of the data written (pattern)
RBUF    equ 0x2000              ; segment of the data read
PATLEN  equ 16 * 512            ; bytes of pattern (the largest write)

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        sti
        cld
        mov [drive], dl

        ; INT 13h extensions present?
        mov ah, 0x41
        mov bx, 0x55aa
        int 0x13
        jc no_ext
        cmp bx, 0xaa55
        jne no_ext

        ; The pattern written: byte i = (i * 7 + i / 256) ^ 0x5a, so that
        ; every sector of it differs from the others.
        mov ax, WBUF
        mov es, ax
        xor di, di
        xor cx, cx
fill:
        mov ax, cx
        mov bl, 7
        mul bl                  ; al = (i & 0xff) * 7
        add al, ch              ; + i / 256
        xor al, 0x5a
        stosb
        inc cx
        cmp cx, PATLEN
        jb fill

        mov si, OPS
        mov byte [step], 0
next:
        lodsb                   ; AH value: 0x42 read, 0x43 write, 0 = end
        test al, al
        jz done
        inc byte [step]
        mov [op], al
        lodsb                   ; sector count
        mov [dap_count], al
        lodsd                   ; LBA (low 32 bits; the high half stays 0)
        mov [dap_lba], eax
        mov ax, RBUF
        cmp byte [op], 0x42
        je .seg
        mov ax, WBUF
.seg:
        mov [dap_seg], ax
        push si
        mov si, dap
        mov ah, [op]
        xor al, al              ; AH=43h: AL=0, write without verify
        mov dl, [drive]
        int 0x13
        pop si
        jc failed
        ; A read of a sector this boot sector wrote must give back the pattern.
        cmp byte [op], 0x42
        jne next
        lodsb                   ; verify flag of a read
        test al, al
        jz next
        push si
        push ds
        movzx cx, byte [dap_count]
        shl cx, 9               ; bytes
        mov ax, RBUF
        mov ds, ax
        mov ax, WBUF
        mov es, ax
        xor si, si
        xor di, di
        repe cmpsb
        pop ds
        pop si
        jne mismatch
        jmp next

done:
        mov al, 0x10
        jmp exit
failed:
        mov al, [step]
        add al, 0x20
        jmp exit
no_ext:
        mov al, 0x3e
        jmp exit
mismatch:
        mov al, 0x3f
exit:
        out 0xf4, al
.hang:                          ; not reached with isa-debug-exit present
        cli
        hlt
        jmp .hang

; The steps: op (0x42 read / 0x43 write), count, LBA (dword); reads add one
; byte: 1 = compare what was read with the pattern (a sector written before).
; Writes always start at the pattern's first byte.
OPS:
        db 0x42, 1
        dd 1
        db 0
        db 0x42, 8
        dd 63
        db 0
        db 0x43, 2
        dd 2048
        db 0x42, 2
        dd 2048
        db 1
        db 0x43, 1
        dd 4000
        db 0x42, 16
        dd 1000
        db 0
        db 0x43, 16
        dd 3000
        db 0x42, 16
        dd 3000
        db 1
        db 0x42, 1
        dd 8191
        db 0
        db 0

align 4
dap:                            ; INT 13h extensions disk address packet
        db 16, 0
dap_count:
        dw 0
dap_off:
        dw 0
dap_seg:
        dw 0
dap_lba:
        dd 0, 0

drive:  db 0
step:   db 0
op:     db 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
