package textlog

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// synthLog is an endless-looking kernel log made of real lines: ordinary
// driver chatter with, every period lines, a hung task report taken from
// the seed. It is generated as it is read, so tests can stream far more
// than they could hold.
type synthLog struct {
	total, period int
	n             int
	report        []string
	buf           bytes.Buffer
}

func newSynthLog(t testing.TB, lines, period int) *synthLog {
	var rep []string
	for _, l := range strings.Split(hungFixture(t), "\n") {
		if m := stampRe.FindStringSubmatch(l); m != nil {
			if len(rep) > 0 && strings.HasPrefix(m[2], "INFO: task") {
				break // one task's report
			}
			rep = append(rep, m[2])
		}
	}
	return &synthLog{total: lines, period: period, report: rep}
}

func hungFixture(t testing.TB) string { return parseFixtureRaw(t, "seed-hung-task-fsfreeze.log") }

func (s *synthLog) Read(p []byte) (int, error) {
	for s.buf.Len() < len(p) && s.n < s.total {
		ts := float64(s.n) / 1000
		if s.period > 0 && s.n%s.period == s.period/2 {
			for _, l := range s.report {
				fmt.Fprintf(&s.buf, "[%12.6f] %s\n", ts, l)
				s.n++
			}
			continue
		}
		fmt.Fprintf(&s.buf, "[%12.6f] e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx %d\n", ts, s.n)
		s.n++
	}
	if s.buf.Len() == 0 {
		return 0, io.EOF
	}
	return s.buf.Read(p)
}

// TestStreamingBounded parses a log far longer than what it keeps: the
// records kept stay bounded by the tail and the context around reports.
func TestStreamingBounded(t *testing.T) {
	const lines, period = 300000, 20000
	in, err := Parse(newSynthLog(t, lines, period), "synthetic")
	if err != nil {
		t.Fatal(err)
	}
	wantReports := lines / period
	if len(in.Reports) < wantReports-1 || len(in.Reports) > wantReports+1 {
		t.Errorf("%d reports, want about %d", len(in.Reports), wantReports)
	}
	limit := TailRecords + len(in.Reports)*(contextRecords+idleLines+2+len(newSynthLog(t, 0, 0).report))
	if len(in.Log) > limit || len(in.Log) < TailRecords {
		t.Errorf("kept %d records of %d, want between %d and %d", len(in.Log), lines, TailRecords, limit)
	}
	for i := 1; i < len(in.Log); i++ {
		if in.Log[i].Line <= in.Log[i-1].Line {
			t.Fatalf("log out of order at %d: line %d after %d", i, in.Log[i].Line, in.Log[i-1].Line)
		}
	}
	last := in.Log[len(in.Log)-1]
	if last.Line != lines {
		t.Errorf("last record is line %d, want %d", last.Line, lines)
	}
	for _, r := range in.Reports {
		if r.Title != "INFO: task hung in __sb_start_write" {
			t.Errorf("report at line %d: %q", r.FirstLine, r.Title)
		}
	}
}

// BenchmarkParse reports throughput on a log of chatter with a hung task
// report every 2000 lines.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	io.Copy(&buf, newSynthLog(b, 100000, 2000))
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
