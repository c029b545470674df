// Package analyzers turns an incident into findings: the rule engine, the
// rulebook (YAML rules embedded from rules/, plus a team's own folder), and
// the code analyzers for what a pattern cannot say — hung-task classes from
// D-state stacks, fatal PCIe errors and the device below the port (named from
// pci.ids), KVM EPT misconfiguration.
//
// A finding says whether the crashed kernel carries the fix by comparing its
// package version with the rule's fixed versions, RPM-style or Debian-style,
// within one distribution stream only. README.md documents the rule schema.
package analyzers
