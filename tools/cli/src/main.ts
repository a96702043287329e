#!/usr/bin/env node
import { Command } from 'commander';
import { registerTokenCommand } from './commands/token';

const program = new Command('trellis')
  .description('Trellis operator tools')
  .showHelpAfterError('(add --help for usage)');
registerTokenCommand(program);
await program.parseAsync();
