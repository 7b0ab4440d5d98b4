package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/v2keys/client"
)

// keys runs the keys API part of a command: it builds the client (syncing
// the cluster unless --no-sync), or onv3 on the v3 API with --backend v3,
// and calls do.
func (e *env) keys(do func(k client.KeysAPI) int) int {
	if e.onV3() {
		k, _, code := e.v3APIs()
		if k == nil {
			return code
		}
		return do(k)
	}
	c, code := e.newClient(true)
	if c == nil {
		return code
	}
	return do(client.NewKeysAPI(c))
}

// keyRequest is a command that sends one keys request about the key
// args[0]: it fails with "key required" without one, and otherwise calls
// do with the keys API (see keys) and the command's context.
func (e *env) keyRequest(args []string, do func(ctx context.Context, k client.KeysAPI, key string) int) int {
	if len(args) == 0 {
		return e.fail(ExitBadArgs, errors.New("key required"))
	}
	return e.keys(func(k client.KeysAPI) int {
		ctx, cancel := e.requestContext()
		defer cancel()
		return do(ctx, k, args[0])
	})
}

// valueArg returns args[1], or all of stdin when there is no such argument;
// an empty value from stdin counts as missing, as in etcdctl.
func (e *env) valueArg(args []string) (string, bool) {
	if len(args) > 1 {
		return args[1], true
	}
	if e.stdin == nil {
		return "", false
	}
	b, err := io.ReadAll(e.stdin)
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

func ttlFlag(fs *flag.FlagSet) *int {
	return fs.Int("ttl", 0, "key time-to-live in seconds")
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func cmdGet(fs *flag.FlagSet) action {
	sorted := fs.Bool("sort", false, "returns result in sorted order")
	quorum := boolFlag(fs, "quorum", "q", "require quorum for get request")
	return func(e *env, args []string) int {
		return e.keyRequest(args, func(ctx context.Context, k client.KeysAPI, key string) int {
			resp, err := k.Get(ctx, key, &client.GetOptions{Sort: *sorted, Quorum: *quorum})
			if err != nil {
				return e.fail(ExitServerError, err)
			}
			if resp.Node.Dir {
				fmt.Fprintf(e.stderr, "%s: is a directory\n", resp.Node.Key)
				return ExitBadArgs
			}
			printResponse(e.stdout, resp, e.g.output)
			return ExitSuccess
		})
	}
}

// boolFlag defines a bool flag with a long and a short name.
func boolFlag(fs *flag.FlagSet, long, short, usage string) *bool {
	p := fs.Bool(long, false, usage)
	fs.BoolVar(p, short, false, "short for --"+long)
	return p
}

func cmdSet(fs *flag.FlagSet) action {
	ttl := ttlFlag(fs)
	prevValue := fs.String("swap-with-value", "", "previous value")
	prevIndex := fs.Int("swap-with-index", 0, "previous index")
	return func(e *env, args []string) int {
		return e.setValue(args, &client.SetOptions{TTL: seconds(*ttl), PrevValue: *prevValue, PrevIndex: uint64(*prevIndex)})
	}
}

func cmdUpdate(fs *flag.FlagSet) action {
	ttl := ttlFlag(fs)
	return func(e *env, args []string) int {
		return e.setValue(args, &client.SetOptions{TTL: seconds(*ttl), PrevExist: client.PrevExist})
	}
}

// setValue is set, update and mk without --in-order: a Set of args[0] to
// the value from args[1] or stdin, printing the response.
func (e *env) setValue(args []string, opts *client.SetOptions) int {
	return e.writeValue(args, func(ctx context.Context, k client.KeysAPI, key, value string) (*client.Response, error) {
		return k.Set(ctx, key, value, opts)
	})
}

// writeValue runs write with the key args[0] and the value from args[1] or
// stdin, and prints its response.
func (e *env) writeValue(args []string, write func(ctx context.Context, k client.KeysAPI, key, value string) (*client.Response, error)) int {
	if len(args) == 0 {
		return e.fail(ExitBadArgs, errors.New("key required"))
	}
	value, ok := e.valueArg(args)
	if !ok {
		return e.fail(ExitBadArgs, errors.New("value required"))
	}
	return e.keys(func(k client.KeysAPI) int {
		ctx, cancel := e.requestContext()
		defer cancel()
		resp, err := write(ctx, k, args[0], value)
		if err != nil {
			return e.fail(ExitServerError, err)
		}
		printResponse(e.stdout, resp, e.g.output)
		return ExitSuccess
	})
}

func cmdMk(fs *flag.FlagSet) action {
	inOrder := fs.Bool("in-order", false, "create in-order key under directory <key>")
	ttl := ttlFlag(fs)
	return func(e *env, args []string) int {
		if !*inOrder {
			return e.setValue(args, &client.SetOptions{TTL: seconds(*ttl), PrevExist: client.PrevNoExist})
		}
		return e.writeValue(args, func(ctx context.Context, k client.KeysAPI, key, value string) (*client.Response, error) {
			return k.CreateInOrder(ctx, key, value, &client.CreateInOrderOptions{TTL: seconds(*ttl)})
		})
	}
}

// dirCommand is mkdir, setdir and updatedir: a Set with Dir, which prints
// nothing on success in the simple format, the response in the others.
func dirCommand(prevExist client.PrevExistType) func(fs *flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		ttl := ttlFlag(fs)
		return func(e *env, args []string) int {
			return e.keyRequest(args, func(ctx context.Context, k client.KeysAPI, key string) int {
				resp, err := k.Set(ctx, key, "", &client.SetOptions{TTL: seconds(*ttl), Dir: true, PrevExist: prevExist})
				if err != nil {
					return e.fail(ExitServerError, err)
				}
				if e.g.output != "simple" {
					printResponse(e.stdout, resp, e.g.output)
				}
				return ExitSuccess
			})
		}
	}
}

func cmdRm(fs *flag.FlagSet) action {
	dir := fs.Bool("dir", false, "removes the key if it is an empty directory or a key-value pair")
	recursive := boolFlag(fs, "recursive", "r", "removes the key and all child keys (if it is a directory)")
	prevValue := fs.String("with-value", "", "previous value")
	prevIndex := fs.Int("with-index", 0, "previous index")
	return func(e *env, args []string) int {
		return e.remove(args, &client.DeleteOptions{Dir: *dir, Recursive: *recursive, PrevValue: *prevValue, PrevIndex: uint64(*prevIndex)})
	}
}

func cmdRmdir(e *env, args []string) int {
	return e.remove(args, &client.DeleteOptions{Dir: true})
}

// remove is rm and rmdir: a Delete that prints the removed value for a key
// and, in the simple format, nothing for a directory.
func (e *env) remove(args []string, opts *client.DeleteOptions) int {
	return e.keyRequest(args, func(ctx context.Context, k client.KeysAPI, key string) int {
		resp, err := k.Delete(ctx, key, opts)
		if err != nil {
			return e.fail(ExitServerError, err)
		}
		if resp.Node == nil || !resp.Node.Dir || e.g.output != "simple" {
			printResponse(e.stdout, resp, e.g.output)
		}
		return ExitSuccess
	})
}

func cmdLs(fs *flag.FlagSet) action {
	sorted := fs.Bool("sort", false, "returns result in sorted order")
	recursive := boolFlag(fs, "recursive", "r", "returns all key names recursively for the given path")
	slash := fs.Bool("p", false, "append slash (/) to directories")
	quorum := boolFlag(fs, "quorum", "q", "require quorum for get request")
	return func(e *env, args []string) int {
		key := "/"
		if len(args) > 0 {
			key = args[0]
		}
		return e.keys(func(k client.KeysAPI) int {
			ctx, cancel := e.requestContext()
			defer cancel()
			resp, err := k.Get(ctx, key, &client.GetOptions{Sort: *sorted, Recursive: *recursive, Quorum: *quorum})
			if err != nil {
				return e.fail(ExitServerError, err)
			}
			if e.g.output != "simple" {
				// As etcdctl: the other formats print the whole response.
				printResponse(e.stdout, resp, e.g.output)
				return ExitSuccess
			}
			if !resp.Node.Dir {
				fmt.Fprintln(e.stdout, resp.Node.Key)
			}
			var walk func(n *client.Node)
			walk = func(n *client.Node) {
				if n.Dir && *slash {
					fmt.Fprintf(e.stdout, "%s/\n", n.Key)
				} else {
					fmt.Fprintln(e.stdout, n.Key)
				}
				for _, child := range n.Nodes {
					walk(child)
				}
			}
			for _, child := range resp.Node.Nodes {
				walk(child)
			}
			return ExitSuccess
		})
	}
}
