package cloudwatchtest

import (
	"encoding/json"
	"reflect"
	"testing"
)

var fastSeeds = []string{
	`{"logEvents":[{"message":"a","timestamp":1},{"timestamp":2,"message":"b \"q\" \\ \/ \b\f\n\r\t \u00e9 \u2028"}],"logGroupName":"g","logStreamName":"s"}`,
	` { "logGroupName" : "g" , "logStreamName":"s", "logEvents" : [ ] } `,
	`{"logEvents":[{"message":"é 日本 😀","timestamp":-5}],"logGroupName":"g","logStreamName":"s"}`,
	`{}`,
	`{"logEvents":[{"message":"x","timestamp":1e3}]}`,                // not a plain integer: encoding/json
	`{"logEvents":[{"message":"\ud83d\ude00","timestamp":1}]}`,       // an escaped surrogate pair: encoding/json
	`{"logEvents":[{"message":"bad \xff","timestamp":1}]}`,           // invalid UTF-8: encoding/json
	`{"logEvents":[{"message":"ctl ` + "\x01" + `","timestamp":1}]}`, // a raw control character: an error
	`{"LogGroupName":"case"}`,                                        // encoding/json matches keys loosely
	`{"logGroupName":"a","logGroupName":"b"}`,                        // a duplicate: the last wins in encoding/json
	`{"logEvents":[{"message":"m","timestamp":01}]}`,
	`{"logEvents":[{"message":"m","timestamp":9223372036854775808}]}`,
	`{"logEvents":null}`,
	`{"logEvents":[{"message":"m"}],}`,
	`{"logEvents":[{"message":"\u00zz"}]}`,
	`{"logGroupName":"g"} x`,
}

// Where the fast decoder takes a body, encoding/json decodes it to the
// same request; where encoding/json fails, the fast decoder declines.
func checkFast(t *testing.T, body string) {
	fast, ok := parsePutLogEvents([]byte(body))
	var ref request
	err := json.Unmarshal([]byte(body), &ref)
	if !ok {
		return
	}
	if err != nil {
		t.Fatalf("fast decoder took %q, encoding/json: %v", body, err)
	}
	if !reflect.DeepEqual(fast, ref) {
		t.Fatalf("%q: fast %+v, encoding/json %+v", body, fast, ref)
	}
}

func TestParsePutLogEvents(t *testing.T) {
	took := 0
	for _, s := range fastSeeds {
		checkFast(t, s)
		if _, ok := parsePutLogEvents([]byte(s)); ok {
			took++
		}
	}
	if took != 4 {
		t.Errorf("the fast decoder took %d of the seeds, want the first 4", took)
	}
}

func FuzzParsePutLogEvents(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	f.Fuzz(checkFast)
}
