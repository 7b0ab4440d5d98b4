package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"

	"github.com/v2keys/client"
)

func cmdWatch(fs *flag.FlagSet) action {
	forever := boolFlag(fs, "forever", "f", "forever watch a key until CTRL+C")
	afterIndex := fs.Uint64("after-index", 0, "watch after the given index")
	recursive := boolFlag(fs, "recursive", "r", "returns all values for key and child keys")
	return func(e *env, args []string) int {
		if len(args) == 0 {
			return e.fail(ExitBadArgs, errors.New("key required"))
		}
		return e.keys(func(k client.KeysAPI) int {
			w := k.Watcher(args[0], &client.WatcherOptions{AfterIndex: *afterIndex, Recursive: *recursive})
			for {
				resp, err := w.Next(e.ctx)
				if err != nil {
					if e.ctx.Err() != nil {
						return ExitSuccess // Ctrl-C ends a watch normally, as in etcdctl
					}
					return e.fail(ExitServerError, err)
				}
				if resp.Node.Dir {
					continue
				}
				if *recursive {
					fmt.Fprintf(e.stdout, "[%s] %s\n", resp.Action, resp.Node.Key)
				}
				printResponse(e.stdout, resp, e.g.output)
				if !*forever {
					return ExitSuccess
				}
			}
		})
	}
}

// cmdExecWatch runs a command for every change of a key (or, with
// --recursive, of a directory's keys), with the change described in its
// environment: ETCD_WATCH_ACTION, ETCD_WATCH_MODIFIED_INDEX, ETCD_WATCH_KEY
// and ETCD_WATCH_VALUE. Unlike etcdctl, which starts each command without
// waiting for the previous one, commands run one at a time, in event order;
// the watch resumes from the next index, so no change is missed meanwhile.
//
// The arguments are read as etcdctl 3.4 (Debian's build) reads them: a
// "--" among them is dropped, the key is the last argument and the command
// all that comes before it ("exec-watch [--] <command> [args...] <key>").
func cmdExecWatch(fs *flag.FlagSet) action {
	afterIndex := fs.Uint64("after-index", 0, "watch after the given index")
	recursive := boolFlag(fs, "recursive", "r", "watch all values for key and child keys")
	return func(e *env, args []string) int {
		if i := slices.Index(args, "--"); i >= 0 {
			args = slices.Delete(slices.Clone(args), i, i+1)
		}
		if len(args) < 2 {
			return e.fail(ExitBadArgs, errors.New("key and command to exec required"))
		}
		key, cmdArgs := args[len(args)-1], args[:len(args)-1]
		return e.keys(func(k client.KeysAPI) int {
			w := k.Watcher(key, &client.WatcherOptions{AfterIndex: *afterIndex, Recursive: *recursive})
			for {
				resp, err := w.Next(e.ctx)
				if err != nil {
					if e.ctx.Err() != nil {
						return ExitSuccess
					}
					return e.fail(ExitServerError, err)
				}
				if resp.Node.Dir {
					fmt.Fprintf(e.stderr, "Ignored dir %s change\n", resp.Node.Key)
					continue
				}
				cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
				cmd.Env = append(os.Environ(),
					"ETCD_WATCH_ACTION="+resp.Action,
					"ETCD_WATCH_MODIFIED_INDEX="+strconv.FormatUint(resp.Node.ModifiedIndex, 10),
					"ETCD_WATCH_KEY="+resp.Node.Key,
					"ETCD_WATCH_VALUE="+resp.Node.Value,
				)
				cmd.Stdout = e.stdout
				cmd.Stderr = e.stderr
				if err := cmd.Run(); err != nil {
					var exit *exec.ExitError
					if !errors.As(err, &exit) {
						return e.fail(ExitBadArgs, err) // the command cannot be started at all
					}
					fmt.Fprintf(e.stderr, "%s: %v\n", cmdArgs[0], err)
				}
			}
		})
	}
}
