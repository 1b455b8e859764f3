// Evaluates an Argo CD resource health check (a Lua script) against
// Kubernetes objects, with gopher-lua, the interpreter Argo CD embeds: the
// object is the global `obj` (JSON null is nil, arrays are 1-based tables),
// and the script returns a table with `status` and `message`. Reads a JSON
// array of objects on stdin and prints a JSON array of verdicts.
//
//	argocd-health <health.lua> < objects.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// toLua converts a decoded JSON value to the Lua value Argo CD's conversion gives.
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []any:
		t := L.NewTable()
		for i, e := range x {
			t.RawSetInt(i+1, toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic(fmt.Sprintf("unexpected JSON value %T", v))
}

// evaluate runs the script on one object in a fresh interpreter with the
// libraries a health check may use (no io, no os).
func evaluate(script string, object any) (verdict, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, object))
	if err := L.DoString(script); err != nil {
		return verdict{}, err
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return verdict{}, fmt.Errorf("the script returned %s, not a table", L.Get(-1).Type())
	}
	out := verdict{Status: lua.LVAsString(hs.RawGetString("status"))}
	if m := hs.RawGetString("message"); m != lua.LNil {
		out.Message = lua.LVAsString(m)
	}
	return out, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-health <health.lua> < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var objects []any
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "stdin:", err)
		os.Exit(1)
	}
	verdicts := make([]verdict, 0, len(objects))
	for i, o := range objects {
		v, err := evaluate(string(script), o)
		if err != nil {
			fmt.Fprintf(os.Stderr, "object %d: %v\n", i, err)
			os.Exit(1)
		}
		verdicts = append(verdicts, v)
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdicts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
