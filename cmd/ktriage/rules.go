package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ktriage/ktriage/analyzers"
)

func init() { addCommand("rules", newRulesCmd) }

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List, show and lint the rulebook (built in, plus --rules DIR)",
		Long: `The rulebook maps evidence (log lines, the panic message, kinds of report, the
crashed function, backtrace frames, blocked tasks' stacks, hardware errors,
the kernel release) to a known cause and its fix. It is built in; a team adds
its own rules in a folder of YAML files given with --rules DIR (a rule with a
built-in id replaces it). The file format, every field and an example per kind
of match: docs/rules.md.`,
		Example: `  ktriage rules list
  ktriage rules show hung-task-frozen-filesystem
  ktriage rules init ./team-rules && ktriage rules check ./team-rules`,
	}
	var rulesDir, format string
	cmd.PersistentFlags().StringVar(&rulesDir, "rules", "", "folder of extra YAML rules to include")

	list := &cobra.Command{
		Use:   "list",
		Short: "List every rule: id, severity, title, where it comes from",
		Example: `  ktriage rules list
  ktriage rules list --rules ./team-rules --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rb, err := loadRulebook(rulesDir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				type row struct {
					ID         string `json:"id"`
					Severity   string `json:"severity"`
					Confidence string `json:"confidence"`
					Title      string `json:"title"`
					File       string `json:"file"`
				}
				var rows []row
				for _, r := range rb.Rules {
					rows = append(rows, row{r.ID, r.Severity.String(), r.Confidence.String(), r.Title, r.File})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			for _, r := range rb.Rules {
				fmt.Fprintf(out, "%-40s %-8s %s\n", r.ID, r.Severity, r.Title)
			}
			fmt.Fprintln(out, plural(len(rb.Rules), "rule"))
			return nil
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")
	list.PreRunE = func(*cobra.Command, []string) error {
		if format != "text" && format != "json" {
			return fmt.Errorf("unknown --format %q (text or json)", format)
		}
		return nil
	}

	var showFormat string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Print one rule as a rules file (YAML that loads as it is) or as JSON",
		Example: `  ktriage rules show hung-task-frozen-filesystem
  ktriage rules show hung-task-frozen-filesystem > team/frozen.yaml   # then edit, keep the id to replace it`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			rb, err := loadRulebook(rulesDir)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var ids []string
			for _, r := range rb.Rules {
				ids = append(ids, r.ID+"\t"+r.Title)
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if showFormat != "yaml" && showFormat != "json" {
				return fmt.Errorf("unknown --format %q (yaml or json)", showFormat)
			}
			rb, err := loadRulebook(rulesDir)
			if err != nil {
				return err
			}
			r, ok := rb.Rule(args[0])
			if !ok {
				return fmt.Errorf("no rule %q (see `ktriage rules list`)", args[0])
			}
			out := cmd.OutOrStdout()
			if showFormat == "json" {
				// The YAML field names, so both formats say the same.
				y, err := yaml.Marshal(r)
				if err != nil {
					return err
				}
				var doc map[string]any
				if err := yaml.Unmarshal(y, &doc); err != nil {
					return err
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			// A whole rules file, so that what is printed loads as it is.
			fmt.Fprintf(out, "# from %s\n", r.File)
			enc := yaml.NewEncoder(out)
			enc.SetIndent(2)
			if err := enc.Encode(map[string][]*analyzers.Rule{"rules": {r}}); err != nil {
				return err
			}
			return enc.Close()
		},
	}
	show.Flags().StringVar(&showFormat, "format", "yaml", "yaml (a rules file) or json")

	initCmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Start a team rulebook: write DIR/team-rules.yaml, a commented example rule that passes check",
		Example: `  ktriage rules init /etc/ktriage/rules
  ktriage rules check /etc/ktriage/rules
  ktriage analyze --rules /etc/ktriage/rules /var/crash/127.0.0.1-2026-11-20-10:23:45`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			p := filepath.Join(args[0], "team-rules.yaml")
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				if os.IsExist(err) {
					return fmt.Errorf("%s exists already: edit it, or give another folder", p)
				}
				return err
			}
			if _, err := io.WriteString(f, rulesTemplate); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: edit it, then `ktriage rules check %s` and `ktriage analyze --rules %s …`\n",
				p, args[0], args[0])
			return nil
		},
	}

	check := &cobra.Command{
		Use: "check [DIR]",
		Example: `  ktriage rules check                 # the built-in rulebook
  ktriage rules check ./team-rules`,
		Short: "Lint rules: required fields, patterns compile, versions parse, ids unique, references present",
		Long: `Lint the built-in rulebook, or the YAML rules in DIR (checked together with the
built-in ones, so an id clash is caught). Exits 1 when a rule has a problem.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return checkRules(cmd.OutOrStdout(), args)
		},
	}
	cmd.AddCommand(list, show, check, initCmd)
	return cmd
}

func checkRules(out io.Writer, args []string) error {
	rb, err := analyzers.Builtin()
	if err != nil {
		fmt.Fprintln(out, err)
		return &exitError{code: 1, err: fmt.Errorf("built-in rulebook: %s", plural(strings.Count(err.Error(), "\n")+1, "problem"))}
	}
	what, n := "built-in rulebook", len(rb.Rules)
	if len(args) == 1 {
		extra, err := analyzers.LoadDir(args[0])
		if err != nil {
			fmt.Fprintln(out, err)
			return &exitError{code: 1, err: fmt.Errorf("%s: %s", args[0], plural(strings.Count(err.Error(), "\n")+1, "problem"))}
		}
		what, n = args[0], len(extra.Rules)
		var clashes []string
		for _, r := range extra.Rules {
			if b, ok := rb.Rule(r.ID); ok {
				clashes = append(clashes, fmt.Sprintf("%s: rule %q replaces the built-in rule from %s", r.File, r.ID, b.File))
			}
		}
		for _, c := range clashes {
			fmt.Fprintln(out, "note:", c)
		}
	}
	fmt.Fprintf(out, "%s: %s OK\n", what, plural(n, "rule"))
	return nil
}

// rulesTemplate is what `rules init` writes: one rule that passes `rules
// check`, every field explained.
const rulesTemplate = `# A team rulebook for ktriage. Every *.yaml file in this folder is read by
#   ktriage analyze --rules DIR …     ktriage fleet --rules DIR …
# and linted by
#   ktriage rules check DIR
# The format, every field and an example of each kind of match: docs/rules.md
# in the ktriage repository. ` + "`ktriage rules show ID`" + ` prints a built-in rule
# in this format; a rule here with a built-in rule's id replaces it.
rules:
  - # Lower-case words joined by '-', '/' or '.'; unique across all rules.
    id: team.nfs-server-unreachable
    # One line, shown as the finding's title.
    title: NFS server stopped answering before the crash
    # critical, high, medium, low or info.
    severity: medium
    # How sure the match makes you: high, medium or low.
    confidence: medium
    # cause (the default: this explains the failure) or context (worth
    # knowing, never the verdict).
    role: cause
    cause: >-
      The NFS server named in the log stopped answering; tasks waiting on it
      block in uninterruptible sleep and the hung-task detector reports them.
    fix: >-
      Check the server and the network path to it; mount with the options the
      team's runbook gives for this share.
    # Commands to confirm on the live system (shown in the report).
    commands:
      - nfsstat -m
      - showmount -e SERVER
    # Where the cause and fix come from: required.
    references:
      - team runbook, page NFS-1
    # Log lines the rule must fire on: ` + "`rules check`" + ` proves the patterns with them.
    examples:
      - '[ 1234.567890] nfs: server filer1 not responding, still trying'
    # Every condition given must hold; within one list, any entry may match.
    # Patterns are Go regular expressions (RE2).
    match:
      log: ['nfs: server \S+ not responding']
`
