package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/monologue-go/monologue/wire"
)

// apiPrefix begins the paths of the introspection API.
const apiPrefix = "/api/"

// introspectionRoutes adds the introspection API to the management mux.
// Every route is behind the management guard, as @connections is; the
// dashboard calls them from the browser, so they are browser paths too
// (see newAdminGuard).
func (g *Gateway) introspectionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/connections", g.serveConnections)
	mux.HandleFunc("GET /api/connections/{id}", g.serveConnection)
	mux.HandleFunc("POST /api/connections/{id}", g.serveSendFrame)
	mux.HandleFunc("DELETE /api/connections/{id}", g.serveCloseConnection)
	mux.HandleFunc("GET /api/channels", g.serveGroups("channels"))
	mux.HandleFunc("POST /api/channels/{tenant}/{channel}", g.servePublish)
	mux.HandleFunc("GET /api/names", g.serveGroups("names"))
	mux.HandleFunc("GET /api/nodes", g.serveNodes)
	mux.HandleFunc("GET /api/events", g.serveEvents)
}

// listAnswer is the API's answer to a list request. Total is left out
// where it cannot be told exactly (channels and names in a cluster, where a
// channel may have members on several nodes).
type listAnswer[T any] struct {
	Items   []T           `json:"items"`
	Total   *int          `json:"total,omitempty"`
	Next    string        `json:"next,omitempty"`
	Missing []missingNode `json:"missing,omitempty"`
}

// missingNode is a node that did not answer, and why.
type missingNode struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

// pageRequest is what a list request asks for.
type pageRequest struct {
	limit, offset int
	after         *cursor
	where         filter
	sort          string
}

// parsePage reads limit, offset, cursor, sort and the filters of a list
// request.
func parsePage(rawQuery string) (pageRequest, error) {
	p := pageRequest{limit: defaultPageLimit}
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, fmt.Errorf("query string: %w", err)
	}
	if s := values.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			return p, fmt.Errorf("limit %q: want 1 to %d", s, maxPageLimit)
		}
		p.limit = n
	}
	if s := values.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n+p.limit > maxPageLimit {
			return p, fmt.Errorf("offset %q: offset plus limit may be at most %d; follow next for later pages", s, maxPageLimit)
		}
		p.offset = n
	}
	if s := values.Get("cursor"); s != "" {
		c, err := decodeCursor(s)
		if err != nil {
			return p, err
		}
		p.after = c
	}
	p.sort = values.Get("sort")
	p.where = filter{
		Text:    strings.ToLower(strings.TrimSpace(values.Get("q"))),
		Tenant:  values.Get("tenant"),
		Channel: values.Get("channel"),
		Name:    values.Get("name"),
		Node:    values.Get("node"),
	}
	for _, s := range []string{p.where.Text, p.where.Tenant, p.where.Channel, p.where.Name, p.where.Node} {
		if len(s) > maxQueryLength {
			return p, fmt.Errorf("a filter is longer than %d bytes", maxQueryLength)
		}
	}
	return p, nil
}

func (g *Gateway) serveConnections(w http.ResponseWriter, r *http.Request) {
	req, err := parsePage(r.URL.RawQuery)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	o, err := connectionOrder(req.sort)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	if req.after != nil && req.after.Sort != o.name {
		badRequest(w, "cursor belongs to another sort")
		return
	}
	q := query{Kind: "connections", Where: req.where, Sort: o.name, After: req.after, Limit: req.offset + req.limit}
	local, err := g.localConnections(r.Context(), &q)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	pages, missing := gatherPages[connectionEntry](r.Context(), g, &q)
	merged := merge(append(pages, local), o, q.Limit, nil)
	writeJSON(w, http.StatusOK, answerOf(merged, o, req.offset, true, missing))
}

// answerOf cuts offset items from the front of merged and says where the
// next page starts.
func answerOf[T any](merged page[T], o order[T], offset int, exact bool, missing []missingNode) listAnswer[T] {
	items := merged.Items[min(offset, len(merged.Items)):]
	a := listAnswer[T]{Items: items, Missing: missing}
	if exact {
		a.Total = &merged.Total
	}
	if merged.More && len(merged.Items) > 0 {
		a.Next = o.cursorOf(&merged.Items[len(merged.Items)-1]).encode()
	}
	return a
}

// gatherPages asks every other node of the cluster for its page.
func gatherPages[T any](ctx context.Context, g *Gateway, q *query) ([]page[T], []missingNode) {
	answers := g.gather(ctx, q)
	var pages []page[T]
	var missing []missingNode
	for _, a := range answers {
		var p page[T]
		err := a.Err
		if err == nil {
			err = json.Unmarshal(a.Answer, &p)
		}
		if err != nil {
			missing = append(missing, missingNode{Node: a.Node, Error: err.Error()})
			continue
		}
		pages = append(pages, p)
	}
	return pages, missing
}

// gather puts q to the other nodes of the cluster, if there is one.
func (g *Gateway) gather(ctx context.Context, q *query) []NodeAnswer {
	c, ok := g.opts.Remote.(Cluster)
	if !ok {
		return nil
	}
	remote := *q
	remote.MaxBytes = remoteAnswerBytes
	data, err := json.Marshal(&remote)
	if err != nil {
		return nil
	}
	return c.Gather(ctx, data)
}

// merge merges the pages of several nodes into the first want items of
// them all. A node that left items out (More) left out only items after
// its last one, so the merge can be trusted only up to the earliest such
// last item: it stops there and says more follow. combine, when not nil,
// folds two entries of the same key (a channel with members on two
// nodes) into the first.
func merge[T any](pages []page[T], o order[T], want int, combine func(into, from *T)) page[T] {
	var all []T
	var bound *T
	total := 0
	for i := range pages {
		p := &pages[i]
		total += p.Total
		all = append(all, p.Items...)
		if p.More && len(p.Items) > 0 {
			if last := &p.Items[len(p.Items)-1]; bound == nil || o.compare(last, bound) < 0 {
				bound = last
			}
		}
	}
	slices.SortFunc(all, func(a, b T) int { return o.compare(&a, &b) })
	if combine != nil {
		folded := all[:0]
		for i := range all {
			if n := len(folded); n > 0 && compareKeys(o.key(&folded[n-1]), o.key(&all[i])) == 0 {
				combine(&folded[n-1], &all[i])
				continue
			}
			folded = append(folded, all[i])
		}
		all = folded
	}
	merged := page[T]{Items: all, Total: total}
	if bound != nil {
		end, _ := slices.BinarySearchFunc(all, bound, func(item T, b *T) int {
			if o.compare(&item, b) <= 0 {
				return -1
			}
			return 1
		})
		merged.Items, merged.More = all[:end], true
	}
	if len(merged.Items) > want {
		merged.Items, merged.More = merged.Items[:want], true
	}
	if merged.Items == nil {
		merged.Items = []T{}
	}
	return merged
}

// combineGroups folds the same channel (or name) of two nodes.
func combineGroups(into, from *channelEntry) {
	into.Members += from.Members
	if len(from.Nodes) > 0 {
		nodes := make(map[string]int, len(into.Nodes)+len(from.Nodes))
		for node, n := range into.Nodes {
			nodes[node] += n
		}
		for node, n := range from.Nodes {
			nodes[node] += n
		}
		into.Nodes = nodes
	}
	if len(from.Holders) > 0 {
		holders := append(slices.Clip(into.Holders), from.Holders...)
		into.Holders = holders[:min(len(holders), maxHolderIDs)]
	}
}

func (g *Gateway) serveConnection(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if e, ok := g.localConnection(id); ok {
		writeJSON(w, http.StatusOK, e)
		return
	}
	var missing []string
	for _, a := range g.gather(r.Context(), &query{Kind: "connection", ID: id}) {
		if a.Err != nil {
			if !errors.Is(a.Err, wire.ErrGone) {
				missing = append(missing, a.Node)
			}
			continue
		}
		var e connectionEntry
		if json.Unmarshal(a.Answer, &e) == nil {
			writeJSON(w, http.StatusOK, e)
			return
		}
	}
	if len(missing) > 0 {
		g.writeWireError(w, r, wire.NewError(wire.CodeInternal, "no answer from node "+strings.Join(missing, ", ")))
		return
	}
	g.writeWireError(w, r, goneError(id))
}

// serveSendFrame sends the body to the connection as one text frame,
// wherever it is, as POST @connections does.
func (g *Gateway) serveSendFrame(w http.ResponseWriter, r *http.Request) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	if err := g.postAnywhere(r.Context(), r.PathValue("id"), body); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// serveCloseConnection closes the connection with status 1000, wherever it
// is, as DELETE @connections does.
func (g *Gateway) serveCloseConnection(w http.ResponseWriter, r *http.Request) {
	if err := g.deleteAnywhere(r.Context(), r.PathValue("id")); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveGroups lists channels or names with their member counts.
func (g *Gateway) serveGroups(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, err := parsePage(r.URL.RawQuery)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		if req.sort != "" && req.sort != channelOrder.name {
			badRequest(w, "sort: "+kind+" are listed by tenant and name only")
			return
		}
		if req.after != nil && req.after.Sort != channelOrder.name {
			badRequest(w, "cursor belongs to another list")
			return
		}
		q := query{Kind: kind, Where: filter{Text: req.where.Text, Tenant: req.where.Tenant}, After: req.after, Limit: req.offset + req.limit}
		local := g.localGroups(&q)
		pages, missing := gatherPages[channelEntry](r.Context(), g, &q)
		_, clustered := g.opts.Remote.(Cluster)
		merged := merge(append(pages, local), channelOrder, q.Limit, combineGroups)
		writeJSON(w, http.StatusOK, answerOf(merged, channelOrder, req.offset, !clustered, missing))
	}
}

// servePublish publishes the body to a tenant's channel, on every node, as
// POST /channels/{channel} does on the public listener: each subscriber
// receives {"channel":C,"payload":BODY}, BODY as JSON when it is JSON and
// else as a JSON string.
func (g *Gateway) servePublish(w http.ResponseWriter, r *http.Request) {
	tenant, ok := g.keys.tenantOfLabel(r.PathValue("tenant"))
	if !ok {
		writeError(w, http.StatusNotFound, "NotFoundException", "no tenant "+strconv.Quote(r.PathValue("tenant")))
		return
	}
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	if err := g.integration.Broadcast(r.Context(), tenant, r.PathValue("channel"), wire.BodyPayload(body)); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

// nodesAnswer lists the nodes, this one first.
type nodesAnswer struct {
	Items   []nodeEntry   `json:"items"`
	Missing []missingNode `json:"missing,omitempty"`
}

func (g *Gateway) serveNodes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, g.nodes(r.Context()))
}

// nodes describes every node that answers.
func (g *Gateway) nodes(ctx context.Context) nodesAnswer {
	self := g.localNode()
	self.Self = true
	a := nodesAnswer{Items: []nodeEntry{self}}
	for _, answer := range g.gather(ctx, &query{Kind: "node"}) {
		var n nodeEntry
		err := answer.Err
		if err == nil {
			err = json.Unmarshal(answer.Answer, &n)
		}
		if err != nil {
			a.Missing = append(a.Missing, missingNode{Node: answer.Node, Error: err.Error()})
			continue
		}
		a.Items = append(a.Items, n)
	}
	slices.SortStableFunc(a.Items[1:], func(x, y nodeEntry) int { return strings.Compare(x.Node, y.Node) })
	return a
}

// writeJSON answers v as JSON, not to be cached nor sniffed.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "BadRequestException", message)
}
