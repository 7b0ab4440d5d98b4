package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/v2keys/client"
)

// printResponse writes a keys response in the --output format, as etcdctl
// v2 does:
//
//	simple:   the value (for a delete: "PrevNode.Value: <old value>")
//	extended: Key:, Created-Index:, Modified-Index:, [PrevNode.Value:,]
//	          TTL:, Index: lines, then an empty line and the value
//	json:     the Response as one JSON object
func printResponse(w io.Writer, resp *client.Response, format string) {
	node := resp.Node
	if node == nil {
		node = &client.Node{}
	}
	switch format {
	case "simple":
		if resp.Action != "delete" {
			fmt.Fprintln(w, node.Value)
		} else if resp.PrevNode != nil {
			fmt.Fprintln(w, "PrevNode.Value:", resp.PrevNode.Value)
		}
	case "extended":
		fmt.Fprintln(w, "Key:", node.Key)
		fmt.Fprintln(w, "Created-Index:", node.CreatedIndex)
		fmt.Fprintln(w, "Modified-Index:", node.ModifiedIndex)
		if resp.PrevNode != nil {
			fmt.Fprintln(w, "PrevNode.Value:", resp.PrevNode.Value)
		}
		fmt.Fprintln(w, "TTL:", node.TTL)
		fmt.Fprintln(w, "Index:", resp.Index)
		if resp.Action != "delete" {
			fmt.Fprintln(w, "")
			fmt.Fprintln(w, node.Value)
		}
	case "json":
		b, err := json.Marshal(resp)
		if err != nil {
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, string(b))
	}
}
