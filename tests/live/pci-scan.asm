; pci-scan.asm: the boot sector of qtrace's live PCI test (crates/e2e).
;
; SeaBIOS enumerates PCI and sizes every BAR, but reads little else of each
; function's header (not the subsystem ids, for one). This boot sector reads
; the whole 64-byte header of every function present, on every bus, through
; configuration mechanism #1 (ports 0xcf8/0xcfc), so that the trace shows all
; of it. It then prints "qtrace-live: pci scan done" on the debug console
; (port 0x402, where SeaBIOS logs too) for the test to wait for, and halts:
; QEMU keeps running until the test has asked QMP query-pci and quit it.
;
; It writes nothing to configuration space. Rebuild pci-scan.bin with
; scripts/build-boot (nasm).

bits 16
org 0x7c00

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7c00
        cld
        xor ebx, ebx            ; bus << 16 | slot << 11 | function << 8
scan:
        mov eax, ebx
        call cfg_read           ; vendor and device id
        cmp ax, 0xffff          ; nothing there (and not traced by QEMU)
        je .next
        mov cl, 4
.header:                        ; dwords 0x04..0x3c
        mov eax, ebx
        mov al, cl
        call cfg_read
        add cl, 4
        cmp cl, 0x40
        jb .header
.next:
        add ebx, 0x100
        cmp ebx, 0x1000000      ; 256 buses
        jb scan

        mov si, done
        mov dx, 0x402
.print:
        lodsb
        test al, al
        jz halt
        out dx, al
        jmp .print
halt:
        cli
        hlt
        jmp halt

; eax = address (bus, slot, function, offset); returns the dword in eax.
cfg_read:
        or eax, 0x80000000
        mov dx, 0xcf8
        out dx, eax
        mov dx, 0xcfc
        in eax, dx
        ret

done:   db "qtrace-live: pci scan done", 10, 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
