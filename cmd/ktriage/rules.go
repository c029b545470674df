package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ktriage/ktriage/analyzers"
)

func init() { addCommand(newRulesCmd) }

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List, show and lint the rulebook (built in, plus --rules DIR)",
	}
	var rulesDir, format string
	cmd.PersistentFlags().StringVar(&rulesDir, "rules", "", "folder of extra YAML rules to include")

	list := &cobra.Command{
		Use:   "list",
		Short: "List every rule: id, severity, title, where it comes from",
		Args:  cobra.NoArgs,
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
					rows = append(rows, row{r.ID, r.Severity, r.Confidence, r.Title, r.File})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			for _, r := range rb.Rules {
				fmt.Fprintf(out, "%-40s %-8s %s\n", r.ID, r.Severity, r.Title)
			}
			fmt.Fprintf(out, "%d rules\n", len(rb.Rules))
			return nil
		},
	}
	list.Flags().StringVar(&format, "format", "text", "text or json")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Print one rule as YAML",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rb, err := loadRulebook(rulesDir)
			if err != nil {
				return err
			}
			r, ok := rb.Rule(args[0])
			if !ok {
				return fmt.Errorf("no rule %q (see `ktriage rules list`)", args[0])
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "# from %s\n", r.File)
			enc := yaml.NewEncoder(out)
			enc.SetIndent(2)
			if err := enc.Encode(r); err != nil {
				return err
			}
			return enc.Close()
		},
	}

	check := &cobra.Command{
		Use:   "check [DIR]",
		Short: "Lint rules: required fields, patterns compile, versions parse, ids unique, references present",
		Long: `Lint the built-in rulebook, or the YAML rules in DIR (checked together with the
built-in ones, so an id clash is caught). Exits 1 when a rule has a problem.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return checkRules(cmd.OutOrStdout(), args)
		},
	}
	cmd.AddCommand(list, show, check)
	return cmd
}

func checkRules(out io.Writer, args []string) error {
	rb, err := analyzers.Builtin()
	if err != nil {
		fmt.Fprintln(out, err)
		return &exitError{code: 1, err: fmt.Errorf("built-in rulebook: %d problem(s)", strings.Count(err.Error(), "\n")+1)}
	}
	what, n := "built-in rulebook", len(rb.Rules)
	if len(args) == 1 {
		extra, err := analyzers.LoadDir(args[0])
		if err != nil {
			fmt.Fprintln(out, err)
			return &exitError{code: 1, err: fmt.Errorf("%s: %d problem(s)", args[0], strings.Count(err.Error(), "\n")+1)}
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
	fmt.Fprintf(out, "%s: %d rules OK\n", what, n)
	return nil
}
