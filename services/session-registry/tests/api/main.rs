mod health;
mod helpers;
mod participants;
mod streams;
