package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func runParseLog(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newParseLogCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestParseLog(t *testing.T) {
	log := filepath.Join("..", "..", "testdata", "logs", "seed-hung-task-fsfreeze.log")
	out, err := runParseLog(t, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TITLE: INFO: task hung in __sb_start_write", "rs:main Q:Reg:9724", "sshd:8848"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = runParseLog(t, "--format", "json", log)
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Title        string `json:"title"`
		BlockedTasks []struct {
			Comm string `json:"comm"`
		} `json:"blocked_tasks"`
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil || in.Title == "" || len(in.BlockedTasks) != 4 {
		t.Errorf("json output %v: %+v", err, in)
	}
	if _, err := runParseLog(t, "--format", "xml", log); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := runParseLog(t, filepath.Join(t.TempDir(), "missing.log")); err == nil {
		t.Error("missing file accepted")
	}
}
