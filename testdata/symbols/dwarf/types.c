/* Small C program whose DWARF exercises the symbols package's DIE walk and
 * type decoding: structs, unions, anonymous members, bitfields, typedefs,
 * enums, arrays, pointers, an extern declaration completed by a definition
 * (DW_AT_specification), a file-local static and a per-CPU-like section. */
typedef unsigned long long u64;
typedef struct { long counter; } atomic_long_t;

struct list_head { struct list_head *next, *prev; };

struct thread_struct { unsigned long pad[3]; unsigned long sp; };

struct sched_entity { u64 exec_start; int weight; };

enum state { RUNNING, SLEEPING = 2 };

struct task {
	unsigned int __state;
	void *stack;
	struct list_head tasks;
	union {
		int pid;
		struct { short lo, hi; };
	};
	unsigned reset_on_fork:1, other:3, wide:12;
	unsigned char level:3, flags:5;
	char comm[16];
	struct sched_entity se;
	struct thread_struct thread;
	enum state st;
	int matrix[2][3];
	const char *name;
	void (*fn)(int);
};

/* A 6.4+ struct module: memory in mem[] instead of core_layout. */
struct module_memory { void *base; unsigned int size; };
struct mod_kallsyms { void *symtab; unsigned int num_symtab; char *strtab; char *typetab; };
struct module {
	int state;
	struct list_head list;
	char name[56];
	struct module_memory mem[7];
	struct mod_kallsyms *kallsyms;
	struct mod_kallsyms core_kallsyms;
};
struct module example_module;

extern struct task init_task;
struct task init_task = { .comm = "swapper" };
atomic_long_t counter_var;
static int file_local = 3;
unsigned long avenrun[3];
__attribute__((section(".data..percpu"))) struct sched_entity percpu_se;
struct task *current_ptr = &init_task;

int use(void) { return file_local++ + example_module.state + (int)avenrun[0] + percpu_se.weight + current_ptr->pid; }
void _start(void) { for (;;) use(); }
