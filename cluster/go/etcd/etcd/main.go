// Command etcd is upstream etcd's own entry point, built at the version pinned
// in go.mod (the upstream main package sits at its module root, which cannot be
// built by path from another module under a useful binary name).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
