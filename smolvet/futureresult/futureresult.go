// Package futureresult defines an analyzer that reports smol futures that
// are created and dropped without being awaited.
//
// Most smol futures do nothing until they are polled, so a call that
// returns one and is used as a statement does nothing at all; the few that
// start their work at once (the blocking pool's, package fs's) lose their
// error that way:
//
//	mu.Acquire()        // locks nothing
//	tx.Send(v)          // sends nothing
//	smol.Sleep(time.Second)
//
// The analyzer reports such calls, also under defer and go, where the
// returned future is thrown away the same way. A task handle
// (*smol.Task) dropped without Detach is reported too: the task runs, but
// a panic in it is lost with the handle. Assigning the future to the blank
// identifier (_ = f()) says the drop is meant, and is not reported.
//
// A future is any value whose method set has Poll(*smol.Context) (T, bool,
// error), smol being the package github.com/smolgo/smol.
package futureresult

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// Analyzer reports futures that are created and dropped unawaited.
var Analyzer = &analysis.Analyzer{
	Name:     "futureresult",
	Doc:      "report smol futures that are created and never awaited",
	URL:      "https://pkg.go.dev/github.com/smolgo/smol/smolvet/futureresult",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      run,
}

const smolPath = "github.com/smolgo/smol"

func run(pass *analysis.Pass) (any, error) {
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	filter := []ast.Node{(*ast.ExprStmt)(nil), (*ast.DeferStmt)(nil), (*ast.GoStmt)(nil)}
	ins.Preorder(filter, func(n ast.Node) {
		var call *ast.CallExpr
		how := ""
		switch s := n.(type) {
		case *ast.ExprStmt:
			call, _ = ast.Unparen(s.X).(*ast.CallExpr)
		case *ast.DeferStmt:
			call, how = s.Call, "deferred "
		case *ast.GoStmt:
			call, how = s.Call, "go "
		}
		if call == nil {
			return
		}
		if tv, ok := pass.TypesInfo.Types[call.Fun]; ok && tv.IsType() {
			return // a conversion, not a call
		}
		t := pass.TypesInfo.TypeOf(call)
		if t == nil {
			return
		}
		if _, isTuple := t.(*types.Tuple); isTuple {
			return
		}
		if !isFuture(t) {
			return
		}
		if isTask(t) {
			pass.ReportRangef(call, "%scall returns a *smol.Task that is dropped: a panic in the task is lost with it; await it or call Detach", how)
			return
		}
		pass.ReportRangef(call, "%scall returns a smol future (%s) that is never awaited: a lazy future does nothing at all, and an eager one's error is lost; await it, or assign it to _ if that is meant", how, types.TypeString(t, func(p *types.Package) string { return p.Name() }))
	})
	return nil, nil
}

// isFuture reports whether t's method set has Poll(*smol.Context) (T,
// bool, error).
func isFuture(t types.Type) bool {
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, "Poll")
	fn, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	sig := fn.Type().(*types.Signature)
	if sig.Params().Len() != 1 || sig.Results().Len() != 3 {
		return false
	}
	if !isSmolNamed(sig.Params().At(0).Type(), "Context", true) {
		return false
	}
	res := sig.Results()
	b, ok := res.At(1).Type().(*types.Basic)
	return ok && b.Kind() == types.Bool && types.Identical(res.At(2).Type(), types.Universe.Lookup("error").Type())
}

// isTask reports whether t is *smol.Task[T].
func isTask(t types.Type) bool { return isSmolNamed(t, "Task", true) }

// isSmolNamed reports whether t is the named type smol.name, or a pointer
// to it if ptr.
func isSmolNamed(t types.Type, name string, ptr bool) bool {
	if ptr {
		p, ok := t.(*types.Pointer)
		if !ok {
			return false
		}
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Name() == name && obj.Pkg() != nil && obj.Pkg().Path() == smolPath
}
