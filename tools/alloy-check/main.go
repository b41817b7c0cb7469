// Command alloy-check parses Alloy configuration files with Alloy's own parser and checks that
// every component block is one the platform's generator is allowed to use, is labelled once,
// and that references to other components point at blocks that exist.
//
//	alloy-check [-allow name,name,...] file.alloy...
//	alloy-check -strings file.alloy   (prints every string literal, decoded, as a JSON line)
//
// Each problem is printed as file:line:col: message. Exit status: 0 clean, 1 problems, 2 usage.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/diag"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/grafana/alloy/syntax/token"
)

// defaultComponents is the allow-list used when -allow is not given. It matches the components
// the alloy generator emits (ALLOY_COMPONENTS in alloy/config.ts); a test keeps the two equal.
var defaultComponents = []string{
	"discovery.docker",
	"discovery.relabel",
	"loki.source.docker",
	"loki.source.journal",
	"loki.write",
	"prometheus.exporter.unix",
	"prometheus.exporter.cadvisor",
	"prometheus.scrape",
	"prometheus.remote_write",
	"otelcol.receiver.otlp",
	"otelcol.processor.batch",
	"otelcol.exporter.otlp",
	"otelcol.auth.basic",
}

// configBlocks are top-level blocks that configure Alloy itself rather than declare a component.
var configBlocks = map[string]bool{"logging": true, "livedebugging": true}

type problem struct {
	pos token.Position
	msg string
}

func main() {
	allow := flag.String("allow", strings.Join(defaultComponents, ","), "comma-separated component names allowed in the files")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: alloy-check [-allow name,name,...] file.alloy...\n")
		flag.PrintDefaults()
	}
	printStrings := flag.Bool("strings", false, "print each string literal, decoded by Alloy's rules, as a JSON line, and check nothing else")
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	allowed := map[string]bool{}
	for _, n := range strings.Split(*allow, ",") {
		if n = strings.TrimSpace(n); n != "" {
			allowed[n] = true
		}
	}

	if *printStrings {
		os.Exit(dumpStrings(flag.Args()))
	}

	failed := false
	for _, file := range flag.Args() {
		problems, err := checkFile(file, allowed)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			failed = true
			continue
		}
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "%s: %s\n", p.pos, p.msg)
			failed = true
		}
		if len(problems) == 0 {
			fmt.Printf("%s: ok\n", file)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func checkFile(file string, allowed map[string]bool) ([]problem, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(file, data)
	if err != nil {
		var diags diag.Diagnostics
		if errors.As(err, &diags) {
			out := make([]problem, 0, len(diags))
			for _, d := range diags {
				out = append(out, problem{d.StartPos, d.Message})
			}
			return out, nil
		}
		return nil, err
	}
	return checkAST(f, allowed), nil
}

func checkAST(f *ast.File, allowed map[string]bool) []problem {
	var out []problem
	declared := map[string]token.Position{}
	namespaces := map[string]bool{}
	for n := range allowed {
		namespaces[strings.SplitN(n, ".", 2)[0]] = true
	}

	for _, stmt := range f.Body {
		switch s := stmt.(type) {
		case *ast.AttributeStmt:
			out = append(out, problem{s.Name.NamePos.Position(), fmt.Sprintf("attribute %q at the top level: only blocks belong here", s.Name.Name)})
		case *ast.BlockStmt:
			name := strings.Join(s.Name, ".")
			pos := s.NamePos.Position()
			if configBlocks[name] {
				continue
			}
			if !allowed[name] {
				out = append(out, problem{pos, fmt.Sprintf("component %q is not in the allow-list (%s)", name, strings.Join(sorted(allowed), ", "))})
				continue
			}
			if s.Label == "" {
				out = append(out, problem{pos, fmt.Sprintf("component %q has no label", name)})
				continue
			}
			id := name + "." + s.Label
			if prior, dup := declared[id]; dup {
				out = append(out, problem{pos, fmt.Sprintf("component %s is declared twice (first at %s)", id, prior)})
				continue
			}
			declared[id] = pos
		}
	}

	// References: an access chain rooted at a component namespace must name a declared component.
	ast.Walk(visitor(func(n ast.Node) bool {
		acc, ok := n.(*ast.AccessExpr)
		if !ok {
			return true
		}
		parts, root, ok := chain(acc)
		if !ok {
			return true
		}
		if !namespaces[parts[0]] {
			return false
		}
		for i := 1; i < len(parts); i++ {
			name := strings.Join(parts[:i], ".")
			if allowed[name] {
				id := name + "." + parts[i]
				if _, found := declared[id]; !found {
					out = append(out, problem{root.NamePos.Position(), fmt.Sprintf("reference to %s, which is not declared in this file", id)})
				}
				return false
			}
		}
		return false
	}), f)
	return out
}

// chain flattens a.b.c into [a b c] when the root is a plain identifier.
func chain(e ast.Expr) ([]string, *ast.Ident, bool) {
	switch v := e.(type) {
	case *ast.IdentifierExpr:
		return []string{v.Ident.Name}, v.Ident, true
	case *ast.AccessExpr:
		parts, root, ok := chain(v.Value)
		if !ok {
			return nil, nil, false
		}
		return append(parts, v.Name.Name), root, true
	}
	return nil, nil, false
}

type visitor func(ast.Node) bool

func (v visitor) Visit(n ast.Node) ast.Visitor {
	if n == nil || !v(n) {
		return nil
	}
	return v
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dumpStrings prints every string literal in the files, decoded the way Alloy decodes them, so a
// writer's escaping can be checked by a round trip.
func dumpStrings(files []string) int {
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			return 1
		}
		f, err := parser.ParseFile(file, data)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\n", err)
			return 1
		}
		failed := false
		ast.Walk(visitor(func(n ast.Node) bool {
			lit, ok := n.(*ast.LiteralExpr)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", lit.ValuePos.Position(), err)
				failed = true
				return true
			}
			out, _ := json.Marshal(v)
			fmt.Println(string(out))
			return true
		}), f)
		if failed {
			return 1
		}
	}
	return 0
}
