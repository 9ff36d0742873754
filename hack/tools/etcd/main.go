// Command etcd is upstream's etcd server; `go install go.etcd.io/etcd/server/v3@v` refuses its replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
