// Package startup holds the programs bench/startup.sh measures ktriage's
// start-up against: what a Go process costs before it does any work of
// ktriage's. Each is a main package in a folder of its own:
//
//   - floor: a static hello world, the least a Go process costs here;
//   - xz and zstd: the floor with one decompression library linked, to show
//     what that library's package initialisation costs (both build CRC
//     tables when the process starts);
//   - logonly: the dump reader and the log decoder and nothing else of
//     ktriage, doing what `ktriage dmesg` does.
package startup
