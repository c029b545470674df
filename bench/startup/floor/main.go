// Command floor is the Go floor: a static hello world.
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
