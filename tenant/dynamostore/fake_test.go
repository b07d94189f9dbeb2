package dynamostore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// fakeDynamo is an in-process DynamoDB speaking the JSON 1.0 protocol for
// the operations a Store uses, with the expression grammar it writes:
// conditions of attribute_exists, attribute_not_exists and = joined by AND;
// updates of SET (with if_not_exists) and REMOVE. Tables have the Store's
// key schema (partition key tenant_id, with the sort key type or, for the
// identities table, without one). Anything else is refused with a ValidationException, so a
// change in the Store's requests shows up as a test failure.
type fakeDynamo struct {
	mu     sync.Mutex
	tables map[string]map[[2]string]map[string]any
	// hashOnly holds the tables created without a sort key.
	hashOnly map[string]bool
	calls    []fakeCall
	// fail, when set, answers a request with an error instead.
	fail func(op string) *fakeErr
}

type fakeCall struct {
	Op    string
	Input map[string]any
}

type fakeErr struct {
	status int
	code   string
	msg    string
	item   map[string]any
}

func newFakeDynamo() *fakeDynamo {
	return &fakeDynamo{tables: map[string]map[[2]string]map[string]any{}, hashOnly: map[string]bool{}}
}

func (f *fakeDynamo) ops(op string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeDynamo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var in map[string]any
	if !ok || r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil {
		writeErr(w, &fakeErr{status: 400, code: "SerializationException", msg: "bad request"})
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Op: op, Input: in})
	var (
		out map[string]any
		err *fakeErr
	)
	if f.fail != nil {
		err = f.fail(op)
	}
	if err == nil {
		out, err = f.do(op, in)
	}
	f.mu.Unlock()
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func writeErr(w http.ResponseWriter, e *fakeErr) {
	body := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + e.code, "message": e.msg}
	if e.item != nil {
		body["Item"] = e.item
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

func invalid(format string, args ...any) *fakeErr {
	return &fakeErr{status: 400, code: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func (f *fakeDynamo) do(op string, in map[string]any) (map[string]any, *fakeErr) {
	name, _ := in["TableName"].(string)
	if op == "CreateTable" {
		if _, ok := f.tables[name]; ok {
			return nil, &fakeErr{status: 400, code: "ResourceInUseException", msg: "table exists"}
		}
		f.tables[name] = map[[2]string]map[string]any{}
		schema, _ := in["KeySchema"].([]any)
		f.hashOnly[name] = len(schema) == 1
		return map[string]any{"TableDescription": map[string]any{"TableName": name, "TableStatus": "CREATING"}}, nil
	}
	table, ok := f.tables[name]
	if !ok {
		return nil, &fakeErr{status: 400, code: "ResourceNotFoundException", msg: "Requested resource not found"}
	}
	if err := checkPlaceholders(in); err != nil {
		return nil, err
	}
	itemKey := func(v any) ([2]string, *fakeErr) { return itemKey(v, f.hashOnly[name]) }
	names, _ := in["ExpressionAttributeNames"].(map[string]any)
	values, _ := in["ExpressionAttributeValues"].(map[string]any)

	switch op {
	case "DescribeTable":
		return map[string]any{"Table": map[string]any{"TableName": name, "TableStatus": "ACTIVE", "ItemCount": len(table)}}, nil

	case "GetItem":
		k, err := itemKey(in["Key"])
		if err != nil {
			return nil, err
		}
		if item, ok := table[k]; ok {
			return map[string]any{"Item": item}, nil
		}
		return map[string]any{}, nil

	case "PutItem", "UpdateItem", "DeleteItem":
		source := in["Key"]
		if op == "PutItem" {
			source = in["Item"]
		}
		k, err := itemKey(source)
		if err != nil {
			return nil, err
		}
		old, exists := table[k]
		if c, ok := in["ConditionExpression"].(string); ok {
			pass, err := evalCondition(c, names, values, old)
			if err != nil {
				return nil, err
			}
			if !pass {
				e := &fakeErr{status: 400, code: "ConditionalCheckFailedException", msg: "The conditional request failed"}
				if in["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD" && exists {
					e.item = old
				}
				return nil, e
			}
		}
		switch op {
		case "PutItem":
			table[k] = in["Item"].(map[string]any)
			return map[string]any{}, nil
		case "DeleteItem":
			delete(table, k)
			return map[string]any{}, nil
		}
		item := map[string]any{}
		for a, v := range old {
			item[a] = v
		}
		for a, v := range in["Key"].(map[string]any) {
			item[a] = v
		}
		if err := applyUpdate(in["UpdateExpression"].(string), names, values, item); err != nil {
			return nil, err
		}
		table[k] = item
		if in["ReturnValues"] == "ALL_NEW" {
			return map[string]any{"Attributes": item}, nil
		}
		return map[string]any{}, nil

	case "Query", "Scan":
		var keys [][2]string
		for k := range table {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int {
			return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
		})
		if op == "Query" {
			lhs, rhs, ok := strings.Cut(in["KeyConditionExpression"].(string), " = ")
			if !ok || resolveName(lhs, names) != "tenant_id" {
				return nil, invalid("unsupported key condition")
			}
			tenantID := sValue(values[rhs])
			keys = slices.DeleteFunc(keys, func(k [2]string) bool { return k[0] != tenantID })
		}
		if start, ok := in["ExclusiveStartKey"]; ok {
			sk, err := itemKey(start)
			if err != nil {
				return nil, err
			}
			keys = slices.DeleteFunc(keys, func(k [2]string) bool {
				return cmp.Or(cmp.Compare(k[0], sk[0]), cmp.Compare(k[1], sk[1])) <= 0
			})
		}
		out := map[string]any{}
		if limit, ok := in["Limit"].(float64); ok && len(keys) >= int(limit) {
			// Like DynamoDB, a page that reaches the limit has a
			// LastEvaluatedKey even when nothing follows.
			keys = keys[:int(limit)]
			last := keys[len(keys)-1]
			out["LastEvaluatedKey"] = map[string]any{"tenant_id": map[string]any{"S": last[0]}, "type": map[string]any{"S": last[1]}}
		}
		items := make([]any, len(keys))
		for i, k := range keys {
			items[i] = table[k]
		}
		out["Items"], out["Count"], out["ScannedCount"] = items, len(items), len(items)
		return out, nil
	}
	return nil, &fakeErr{status: 400, code: "UnknownOperationException", msg: op}
}

// checkPlaceholders refuses unused or undefined placeholders, as DynamoDB
// does.
func checkPlaceholders(in map[string]any) *fakeErr {
	used := map[string]bool{}
	for _, field := range []string{"ConditionExpression", "UpdateExpression", "KeyConditionExpression", "FilterExpression", "ProjectionExpression"} {
		if s, ok := in[field].(string); ok {
			for _, p := range placeholder.FindAllString(s, -1) {
				used[p] = true
			}
		}
	}
	defined := map[string]bool{}
	for _, field := range []string{"ExpressionAttributeNames", "ExpressionAttributeValues"} {
		m, present := in[field].(map[string]any)
		if present && len(m) == 0 {
			return invalid("%s must not be empty", field)
		}
		for p := range m {
			if !used[p] {
				return invalid("Value provided in %s unused in expressions: %s", field, p)
			}
			defined[p] = true
		}
	}
	for p := range used {
		if !defined[p] {
			return invalid("An expression attribute placeholder is not defined: %s", p)
		}
	}
	return nil
}

var placeholder = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

func itemKey(v any, hashOnly bool) ([2]string, *fakeErr) {
	m, _ := v.(map[string]any)
	t, y := sValue(m["tenant_id"]), sValue(m["type"])
	if hashOnly {
		y = "-"
	}
	if t == "" || y == "" {
		return [2]string{}, invalid("One or more parameter values were invalid: missing key")
	}
	return [2]string{t, y}, nil
}

func sValue(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["S"].(string)
	return s
}

func resolveName(p string, names map[string]any) string {
	p = strings.TrimSpace(p)
	if strings.HasPrefix(p, "#") {
		s, _ := names[p].(string)
		return s
	}
	return p
}

func evalCondition(expr string, names, values map[string]any, item map[string]any) (bool, *fakeErr) {
	for clause := range strings.SplitSeq(expr, " AND ") {
		clause = strings.TrimSpace(clause)
		if arg, ok := strings.CutPrefix(clause, "attribute_exists("); ok {
			if _, has := item[resolveName(strings.TrimSuffix(arg, ")"), names)]; !has {
				return false, nil
			}
			continue
		}
		if arg, ok := strings.CutPrefix(clause, "attribute_not_exists("); ok {
			if _, has := item[resolveName(strings.TrimSuffix(arg, ")"), names)]; has {
				return false, nil
			}
			continue
		}
		lhs, rhs, ok := strings.Cut(clause, " = ")
		if !ok {
			return false, invalid("unsupported condition %q", clause)
		}
		v, has := item[resolveName(lhs, names)]
		if !has || !reflect.DeepEqual(v, values[strings.TrimSpace(rhs)]) {
			return false, nil
		}
	}
	return true, nil
}

func applyUpdate(expr string, names, values map[string]any, item map[string]any) *fakeErr {
	setPart, removePart := expr, ""
	if i := strings.Index(expr, "REMOVE "); i >= 0 {
		setPart, removePart = expr[:i], expr[i+len("REMOVE "):]
	}
	setPart, ok := strings.CutPrefix(strings.TrimSpace(setPart), "SET ")
	if !ok && strings.TrimSpace(setPart) != "" {
		return invalid("unsupported update %q", expr)
	}
	updates := map[string]any{}
	for _, assign := range splitTopLevel(setPart) {
		lhs, rhs, ok := strings.Cut(assign, " = ")
		if !ok {
			return invalid("unsupported assignment %q", assign)
		}
		attr := resolveName(lhs, names)
		if args, ok := strings.CutPrefix(strings.TrimSpace(rhs), "if_not_exists("); ok {
			parts := splitTopLevel(strings.TrimSuffix(args, ")"))
			if len(parts) != 2 {
				return invalid("unsupported if_not_exists %q", rhs)
			}
			if cur, has := item[resolveName(parts[0], names)]; has {
				updates[attr] = cur
			} else {
				updates[attr] = values[strings.TrimSpace(parts[1])]
			}
			continue
		}
		v, ok := values[strings.TrimSpace(rhs)]
		if !ok {
			return invalid("unsupported value %q", rhs)
		}
		updates[attr] = v
	}
	for a, v := range updates {
		item[a] = v
	}
	for _, r := range splitTopLevel(removePart) {
		delete(item, resolveName(r, names))
	}
	return nil
}

func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}
