package incident

import (
	"encoding/json"
	"testing"
)

func TestAddrRangeJSON(t *testing.T) {
	in := Panic{Message: "x", TaskStack: &AddrRange{Lo: 0xff32d0be00478000, Hi: 0xff32d0be0047c000}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Panic
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if *out.TaskStack != *in.TaskStack {
		t.Errorf("round trip %s gave %#x..%#x", b, out.TaskStack.Lo, out.TaskStack.Hi)
	}
	if err := json.Unmarshal([]byte(`{"message":"x","task_stack":{"lo":"zz","hi":"0x1"}}`), &out); err == nil {
		t.Error("a bad address was accepted")
	}
}
