package debuginfo

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// makeELF builds a small ELF64 executable that debug/elf reads: a PT_NOTE
// segment and a .note.gnu.build-id section holding id, pad bytes of
// payload, and section headers at the end (where a cut-short download
// loses them first).
func makeELF(t testing.TB, idHex string, pad int) []byte {
	t.Helper()
	id, err := hex.DecodeString(idHex)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	note := le.AppendUint32(nil, 4)
	note = le.AppendUint32(note, uint32(len(id)))
	note = le.AppendUint32(note, 3)
	note = append(note, "GNU\x00"...)
	note = append(note, id...)
	for len(note)%4 != 0 {
		note = append(note, 0)
	}
	const ehsize, phsize, shsize = 64, 56, 64
	noteOff := uint64(ehsize + phsize)
	payloadOff := noteOff + uint64(len(note))
	shstr := []byte("\x00.note.gnu.build-id\x00.shstrtab\x00")
	shstrOff := payloadOff + uint64(pad)
	shOff := (shstrOff + uint64(len(shstr)) + 7) &^ 7

	b := make([]byte, shOff+3*shsize)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], ehsize) // phoff
	le.PutUint64(b[40:], shOff)
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1)
	le.PutUint16(b[58:], shsize)
	le.PutUint16(b[60:], 3)
	le.PutUint16(b[62:], 2) // shstrndx

	ph := b[ehsize:]
	le.PutUint32(ph[0:], uint32(elf.PT_NOTE))
	le.PutUint32(ph[4:], uint32(elf.PF_R))
	le.PutUint64(ph[8:], noteOff)
	le.PutUint64(ph[32:], uint64(len(note)))
	le.PutUint64(ph[40:], uint64(len(note)))
	le.PutUint64(ph[48:], 4)
	copy(b[noteOff:], note)
	for i := range pad {
		b[payloadOff+uint64(i)] = byte(i * 7)
	}
	copy(b[shstrOff:], shstr)

	sh := b[shOff+shsize:] // .note.gnu.build-id
	le.PutUint32(sh[0:], 1)
	le.PutUint32(sh[4:], uint32(elf.SHT_NOTE))
	le.PutUint64(sh[8:], uint64(elf.SHF_ALLOC))
	le.PutUint64(sh[24:], noteOff)
	le.PutUint64(sh[32:], uint64(len(note)))
	le.PutUint64(sh[48:], 4)
	sh = b[shOff+2*shsize:] // .shstrtab
	le.PutUint32(sh[0:], 20)
	le.PutUint32(sh[4:], uint32(elf.SHT_STRTAB))
	le.PutUint64(sh[24:], shstrOff)
	le.PutUint64(sh[32:], uint64(len(shstr)))
	le.PutUint64(sh[48:], 1)
	return b
}
