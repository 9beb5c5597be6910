package haproxy

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// mapMaster is a master CLI on a unix socket with one current worker, 201,
// whose slots.map (#2) answers the entries maps returns for the n-th read,
// counting from 0. It counts the commands it answered.
type mapMaster struct {
	socket string
	mu     sync.Mutex
	reads  int
	stats  int
	maps   func(n int) string
}

func startMapMaster(t *testing.T, maps func(n int) string) *mapMaster {
	t.Helper()
	dir, err := os.MkdirTemp("", "mapmaster")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &mapMaster{socket: filepath.Join(dir, "master.sock"), maps: maps}
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				c.Write([]byte(f.answer(strings.TrimSpace(line))))
			}()
		}
	}()
	return f
}

func (f *mapMaster) answer(cmd string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd {
	case "show proc":
		return "#<PID>          <type>          <reloads>       <uptime>        <version>      \n" +
			"100             master          1 [failed: 0]   0d00h00m02s     2.6.12-1+deb12u4\n" +
			"# workers\n" +
			"201             worker          0               0d00h00m01s     2.6.12-1+deb12u4\n" +
			"# programs\n\n"
	case "@!201 show map":
		return "# id (file) description\n" +
			"1 (/alloc/versions.map) pattern loaded from file '/alloc/versions.map' used by map at file 'haproxy.cfg' line 9. curr_ver=0 next_ver=0 entry_cnt=1\n" +
			"2 (/alloc/slots.map) pattern loaded from file '/alloc/slots.map' used by map at file 'haproxy.cfg' line 14. curr_ver=0 next_ver=0 entry_cnt=1\n\n"
	case "@!201 show map #2":
		n := f.reads
		f.reads++
		return f.maps(n)
	case "@!201 show stat -1 2 -1":
		f.stats++
		return "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,type\n" +
			"be_web_1,BACKEND,0,0,1,1,,1,UP,1\n\n"
	}
	return "Unknown command.\n"
}

func TestSnapshotReadsTheSelectedMapsAroundTheStatistics(t *testing.T) {
	f := startMapMaster(t, func(int) string { return "0x1 be_web_1 web/v1\n\n" })
	m := &Master{Socket: f.socket, Timeout: time.Second}
	s, err := m.Snapshot(context.Background(), func(file string) bool { return strings.HasSuffix(file, "/slots.map") })
	if err != nil {
		t.Fatal(err)
	}
	if s.Master.PID != 100 || len(s.Workers) != 1 || s.Workers[0].Proc.PID != 201 || s.Workers[0].Generation != 1 {
		t.Fatalf("Snapshot = %+v, want master 100 and worker 201 of generation 1", s)
	}
	want := map[string][]MapEntry{"/alloc/slots.map": {{Key: "be_web_1", Value: "web/v1"}}}
	if got := s.Workers[0].Maps; !reflect.DeepEqual(got, want) {
		t.Errorf("maps = %v, want %v (slots.map alone)", got, want)
	}
	if n := BackendSessions(s.Workers[0].Stat)["be_web_1"]; n != 1 {
		t.Errorf("be_web_1 has %d sessions in the snapshot, want 1", n)
	}
	if f.reads != 2 || f.stats != 1 {
		t.Errorf("%d reads of slots.map and %d of show stat, want 2 and 1: one before, one after", f.reads, f.stats)
	}
}

func TestSnapshotReadsAgainWhenAMapChangedMeanwhile(t *testing.T) {
	// The runtime API moves slot 1 from v1 to v3 between the first read of
	// slots.map and the second: the statistics read between belong to
	// neither for sure, so the worker is read again.
	f := startMapMaster(t, func(n int) string {
		if n == 0 {
			return "0x1 be_web_1 web/v1\n\n"
		}
		return "0x1 be_web_1 web/v3\n\n"
	})
	m := &Master{Socket: f.socket, Timeout: time.Second}
	s, err := m.Snapshot(context.Background(), func(file string) bool { return strings.HasSuffix(file, "/slots.map") })
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Workers[0].Maps["/alloc/slots.map"]; !reflect.DeepEqual(got, []MapEntry{{Key: "be_web_1", Value: "web/v3"}}) {
		t.Errorf("slots.map = %v, want be_web_1 web/v3, as read on both sides of the second show stat", got)
	}
	if f.stats != 2 {
		t.Errorf("show stat read %d times, want 2", f.stats)
	}
}

func TestSnapshotGivesUpWhenAMapKeepsChanging(t *testing.T) {
	f := startMapMaster(t, func(n int) string { return "0x1 be_web_1 web/v" + string(rune('0'+n%10)) + "\n\n" })
	m := &Master{Socket: f.socket, Timeout: time.Second}
	s, err := m.Snapshot(context.Background(), func(file string) bool { return strings.HasSuffix(file, "/slots.map") })
	if err == nil || !strings.Contains(err.Error(), "/alloc/slots.map changed while its statistics were read") {
		t.Fatalf("Snapshot = %+v, %v; want an error saying slots.map kept changing", s, err)
	}
	if f.stats != snapshotAttempts {
		t.Errorf("show stat read %d times, want %d", f.stats, snapshotAttempts)
	}
}

func TestSnapshotWithoutASelectionReadsNoMap(t *testing.T) {
	f := startMapMaster(t, func(int) string { t.Error("a map was read"); return "\n" })
	m := &Master{Socket: f.socket, Timeout: time.Second}
	s, err := m.Snapshot(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Workers) != 1 || s.Workers[0].Maps != nil {
		t.Errorf("Snapshot(nil) = %+v, want one worker and no maps", s)
	}
}
