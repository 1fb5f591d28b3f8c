mod audio;
mod helpers;
mod lyria;
mod settings;
