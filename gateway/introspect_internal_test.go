package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestBrowserPrefixes: a browser path ending in "/*" covers the paths
// under it, and nothing that only looks so.
func TestBrowserPrefixes(t *testing.T) {
	g := &Gateway{opts: Options{}.withDefaults()}
	g.log = g.opts.Logger
	guard := g.newAdminGuard(nil, "/", "/api/*")
	for path, want := range map[string]bool{
		"/":                              true,
		"/api/":                          true,
		"/api/connections":               true,
		"/api/connections/x":             true,
		"/api":                           false,
		"/apix":                          false,
		"/@connections/x":                false,
		"/x/":                            false,
		"/api/../@connections":           false,
		"/api/./connections":             false,
		"//api/connections":              false,
		"/api/connections/ab%2F%2Fcd%3D": true, // an ID with "//" in it
		"/api/%2e%2e/@connections":       false,
		"/api/%2E%2E/@connections":       false,
	} {
		if got := guard.isBrowser(path); got != want {
			t.Errorf("isBrowser(%q) = %v, want %v", path, got, want)
		}
	}
}

// item is a list item for the merge tests: a number and a node.
type item struct {
	n    int64
	node string
}

var itemOrder = order[item]{name: "n", key: func(i *item) sortKey { return sortKey{num: i.n, id: i.node} }}

// nodePage returns the page a node holding values answers with at most
// limit items after cursor.
func nodePage(node string, values []int64, after *cursor, limit int) page[item] {
	var items []item
	for _, v := range values {
		it := item{v, node}
		if itemOrder.afterCursor(&it, after) {
			items = append(items, it)
		}
	}
	p := cut(items, itemOrder, limit)
	p.Total = len(values)
	return p
}

// TestMergePaging: paging through the merge of several nodes' pages with
// cursors visits every item once and in order, whatever the limit and
// however the nodes cut their pages.
func TestMergePaging(t *testing.T) {
	nodes := map[string][]int64{
		"a": {1, 4, 5, 6, 7, 8, 20},
		"b": {2, 3, 9},
		"c": {},
		"d": {10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
	}
	var want []string
	for node, values := range nodes {
		for _, v := range values {
			want = append(want, fmt.Sprint(v, node))
		}
	}
	slices.SortFunc(want, func(a, b string) int {
		var x, y int
		fmt.Sscan(a, &x)
		fmt.Sscan(b, &y)
		return x - y
	})
	for limit := 1; limit <= 25; limit++ {
		for nodeLimit := 1; nodeLimit <= limit; nodeLimit++ {
			var got []string
			var after *cursor
			for pages := 0; pages < 100; pages++ {
				var answers []page[item]
				for node, values := range nodes {
					// A node may return fewer than asked (its answer cut
					// to fit a message).
					answers = append(answers, nodePage(node, values, after, min(limit, nodeLimit)))
				}
				merged := merge(answers, itemOrder, limit, nil)
				if merged.Total != 20 {
					t.Fatalf("total %d", merged.Total)
				}
				for _, it := range merged.Items {
					got = append(got, fmt.Sprint(it.n, it.node))
				}
				if !merged.More {
					break
				}
				c := itemOrder.cursorOf(&merged.Items[len(merged.Items)-1])
				after = &c
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("limit %d, node limit %d: got %v, want %v", limit, nodeLimit, got, want)
			}
		}
	}
}

// TestMergeGroups: a channel with members on several nodes is one entry,
// with its members summed and counted per node.
func TestMergeGroups(t *testing.T) {
	pages := []page[channelEntry]{
		{Items: []channelEntry{{Tenant: "default", Name: "a", Members: 1, Nodes: map[string]int{"n1": 1}}, {Tenant: "default", Name: "b", Members: 2, Nodes: map[string]int{"n1": 2}}}},
		{Items: []channelEntry{{Tenant: "default", Name: "b", Members: 3, Nodes: map[string]int{"n2": 3}}, {Tenant: "default", Name: "c", Members: 1, Nodes: map[string]int{"n2": 1}}}, More: true},
		{Items: []channelEntry{{Tenant: "default", Name: "d", Members: 1, Nodes: map[string]int{"n3": 1}}}},
	}
	merged := merge(pages, channelOrder, 10, combineGroups)
	if got := fmt.Sprint(merged.Items); got != "[{default a 1 map[n1:1] []} {default b 5 map[n1:2 n2:3] []} {default c 1 map[n2:1] []}]" || !merged.More {
		t.Fatalf("merged %s more %v", got, merged.More)
	}
}
